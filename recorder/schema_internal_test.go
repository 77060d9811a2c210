package recorder

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSchemaIndexes pins the secondary indexes a new file gets (store.go
// says why each is kept) and checks that the filters they serve search
// them: agent, trace and a time window.
func TestSchemaIndexes(t *testing.T) {
	ctx := context.Background()
	r, err := OpenSQLiteMemory(nil)
	require.NoError(t, err)
	defer r.Close()
	rows, err := r.st.r.QueryContext(ctx, "SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE 'entries_%' ORDER BY name")
	require.NoError(t, err)
	var names []string
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		names = append(names, n)
	}
	require.NoError(t, rows.Err())
	rows.Close()
	want := []string{"entries_agent", "entries_payload_type", "entries_time", "entries_tool", "entries_trace"}
	require.Equal(t, want, names)

	cases := []struct {
		name  string
		f     Filter
		index string
	}{
		{"agent", Filter{Agent: "a", Order: Descending}, "entries_agent"},
		{"trace", Filter{Trace: "t"}, "entries_trace"},
		{"time", Filter{Since: time.Unix(1, 0), Until: time.Unix(2, 0)}, "entries_time"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			where, args := c.f.where()
			rows, err := r.st.r.QueryContext(ctx, "EXPLAIN QUERY PLAN "+selectSQL(where, c.f.Order, pageSize), args...)
			require.NoError(t, err)
			defer rows.Close()
			var plan []string
			for rows.Next() {
				var id, parent, unused int
				var detail string
				require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
				plan = append(plan, detail)
			}
			require.NoError(t, rows.Err())
			assert.True(t, slices.ContainsFunc(plan, func(p string) bool { return strings.Contains(p, "INDEX "+c.index+" ") }),
				"%s: %v", c.name, plan)
		})
	}
}
