package ipc_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every test of the package ends with no goroutine left over.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
