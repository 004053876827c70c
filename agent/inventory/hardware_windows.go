package inventory

import (
	"context"
	"os/exec"
	"strings"
)

// readHardware asks WMI (through PowerShell) for the BIOS serial and the
// computer system's vendor and model.
func readHardware(ctx context.Context) (hardware, error) {
	const script = `$b=Get-CimInstance Win32_BIOS;$c=Get-CimInstance Win32_ComputerSystem;` +
		`Write-Output $b.SerialNumber;Write-Output $c.Manufacturer;Write-Output $c.Model`
	out, err := exec.CommandContext(ctx, "powershell.exe", "-NoProfile", "-NonInteractive", "-Command", script).Output()
	if err != nil {
		return hardware{}, err
	}
	lines := strings.Split(strings.ReplaceAll(string(out), "\r", ""), "\n")
	for len(lines) < 3 {
		lines = append(lines, "")
	}
	hw := hardware{serial: strings.TrimSpace(lines[0]), vendor: strings.TrimSpace(lines[1]), model: strings.TrimSpace(lines[2])}
	if junkSerial(hw.serial) {
		hw.serial = ""
	}
	return hw, nil
}
