package scan

import (
	"fmt"

	"github.com/agent-os/agentos"
)

// ErrInvalid is wrapped by the errors of [Fingerprint] for a schema that is
// not JSON, has duplicate keys or is over the bounds, and by
// [ParseSeverity] for an unknown name. errors.Is(err, agentos.ErrInvalid)
// holds for the same errors.
var ErrInvalid = fmt.Errorf("scan: %w", agentos.ErrInvalid)
