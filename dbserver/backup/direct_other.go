//go:build !linux

package backup

import (
	"errors"
	"os"
)

// setDirect refuses to turn on direct I/O, which is used on Linux only.
func setDirect(_ *os.File, on bool) error {
	if on {
		return errors.ErrUnsupported
	}
	return nil
}
