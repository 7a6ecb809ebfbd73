//go:build !unix

package storetest

import "time"

// processCPU is 0 where the CPU time is not measured.
func processCPU() time.Duration { return 0 }
