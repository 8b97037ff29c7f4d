package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// AptInstall installs Debian packages with apt-get, after updating its lists, for tests that
// need a program the machine may lack (Chromium, npm). It needs root; without it, the error
// says which packages to install.
func AptInstall(pkgs ...string) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("install Debian's %s (as root: apt-get install %[1]s)", strings.Join(pkgs, " "))
	}
	install := append([]string{"install", "-y", "-qq", "--no-install-recommends"}, pkgs...)
	for _, args := range [][]string{{"update", "-qq"}, install} {
		cmd := exec.Command("apt-get", args...)
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("apt-get %s: %w\n%s", args[0], err, out)
		}
	}
	return nil
}
