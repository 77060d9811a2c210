//go:build !cgo

package emk

import (
	"database/sql/driver"
	"errors"
	"fmt"
)

// Without cgo there is no SQLite: the package still builds (so that code
// importing it cross-compiles), and Open fails with errNoSQLite.
var errNoSQLite = fmt.Errorf("emk: SQLite needs cgo, and this program was built with CGO_ENABLED=0: %w", errors.ErrUnsupported)

var sqliteDriver driver.Driver = noSQLite{}

type noSQLite struct{}

func (noSQLite) Open(string) (driver.Conn, error) { return nil, errNoSQLite }
