//go:build !cgo

package recorder

import (
	"database/sql/driver"
	"errors"
	"fmt"
)

// Without cgo there is no SQLite: the package still builds (so that code
// importing it cross-compiles), and Open fails with errNoSQLite.
var errNoSQLite = fmt.Errorf("recorder: SQLite needs cgo, and this program was built with CGO_ENABLED=0: %w", errors.ErrUnsupported)

var sqliteDriver driver.Driver = noSQLite{}

type noSQLite struct{}

func (noSQLite) Open(string) (driver.Conn, error) { return nil, errNoSQLite }

func sqliteKind(error) sqliteErrKind { return sqliteOther }
