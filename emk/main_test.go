package emk_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the fixed "now" of the tests.
var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
