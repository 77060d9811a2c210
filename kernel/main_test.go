package kernel_test

import (
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// database/sql's connection opener of the in-memory recorders ends
		// when the recorder is closed; allow it a moment after Close.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}
