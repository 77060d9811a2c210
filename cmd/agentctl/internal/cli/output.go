package cli

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

// writeRecords writes items in the chosen --format: a table of headers and
// row(item) (aligned columns, tabs and newlines in cells escaped), a JSON
// array, or one JSON object per line. Every command that lists things
// writes them through it, so the three formats mean the same everywhere.
func writeRecords[T any](e *env, headers []string, items []T, row func(T) []string) error {
	switch e.format {
	case "json":
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if items == nil {
			items = []T{}
		}
		return enc.Encode(items)
	case "jsonl":
		enc := json.NewEncoder(e.stdout)
		for _, it := range items {
			if err := enc.Encode(it); err != nil {
				return err
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(headers, "\t"))
	for _, it := range items {
		cells := row(it)
		for i, c := range cells {
			cells[i] = cellEscaper.Replace(c)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// cellEscaper keeps one record on one table line.
var cellEscaper = strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`)
