package testenv

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill a node should the test binary die
// without running its cleanups.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
