package recorder

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFilterUsesIndexes checks with EXPLAIN QUERY PLAN that the selective
// filters of Query search an index rather than scan the table.
func TestFilterUsesIndexes(t *testing.T) {
	r, err := OpenSQLiteMemory(nil)
	require.NoError(t, err)
	defer r.Close()
	cases := []struct {
		f     Filter
		index string
	}{
		{Filter{PayloadType: "example.com/billing.Invoice"}, "entries_payload_type"},
		{Filter{PayloadType: "application/json", After: 10, Order: Descending}, "entries_payload_type"},
		{Filter{Tool: "sql.query"}, "entries_tool"},
		{Filter{Trace: "t-1"}, "entries_trace"},
	}
	for _, c := range cases {
		where, args := c.f.where()
		if c.f.After > 0 {
			where, args = append(where, "seq > ?"), append(args, int64(c.f.After))
		}
		rows, err := r.st.r.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+selectSQL(where, c.f.Order, pageSize), args...)
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		assert.Regexp(t, "SEARCH entries USING (COVERING )?INDEX "+c.index+" ", strings.Join(plan, "; "), "%+v", c.f)
	}
}

// TestColumnCount keeps numColumns, which Verify's driver-level reader
// sizes its row with, in step with the column list.
func TestColumnCount(t *testing.T) {
	assert.Equal(t, numColumns, strings.Count(columns, ",")+1)
	assert.Equal(t, numColumns, strings.Count(insertSQL, "?"))
	assert.Len(t, insertArgs(&Entry{}, ""), numColumns)
	assert.Len(t, newRawRow().dest, numColumns)
}
