//go:build !unix

package policy

import "time"

func processCPU() (time.Duration, bool) { return 0, false }
