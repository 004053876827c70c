package fleet

import "syscall"

// childAttr makes a server process get SIGKILL when the harness dies, so
// an interrupted rehearsal leaves no server behind.
func childAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }
