package mcp_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) != "" {
		os.Exit(helperMain())
	}
	goleak.VerifyTestMain(m,
		// database/sql's connection opener of the in-memory recorders ends
		// when the recorder is closed; allow it a moment after Close.
		goleak.IgnoreTopFunction("database/sql.(*DB).connectionOpener"),
	)
}
