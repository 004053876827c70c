package inventory

import (
	"context"
	"os/exec"
	"regexp"
)

var ioregField = regexp.MustCompile(`"(IOPlatformSerialNumber|manufacturer|model)" = <?"([^"]*)"`)

// readHardware asks IOKit through ioreg for the platform serial and model.
func readHardware(ctx context.Context) (hardware, error) {
	out, err := exec.CommandContext(ctx, "/usr/sbin/ioreg", "-rd1", "-c", "IOPlatformExpertDevice").Output()
	if err != nil {
		return hardware{}, err
	}
	var hw hardware
	for _, m := range ioregField.FindAllStringSubmatch(string(out), -1) {
		switch m[1] {
		case "IOPlatformSerialNumber":
			hw.serial = m[2]
		case "manufacturer":
			hw.vendor = m[2]
		case "model":
			hw.model = m[2]
		}
	}
	return hw, nil
}
