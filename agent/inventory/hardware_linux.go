package inventory

import (
	"context"
	"errors"
	"os"
	"strings"
)

// readHardware reads SMBIOS fields from sysfs. product_serial is readable by
// root only; as a normal user the serial stays empty (osquery or the server's
// Fleet sync may fill it).
func readHardware(_ context.Context) (hardware, error) {
	read := func(name string) (string, error) {
		b, err := os.ReadFile("/sys/class/dmi/id/" + name)
		return strings.TrimSpace(string(b)), err
	}
	var hw hardware
	var errSerial error
	hw.serial, errSerial = read("product_serial")
	hw.vendor, _ = read("sys_vendor")
	hw.model, _ = read("product_name")
	if junkSerial(hw.serial) {
		hw.serial = ""
	}
	if errors.Is(errSerial, os.ErrNotExist) {
		errSerial = nil // no DMI (containers, some ARM boards)
	}
	return hw, errSerial
}
