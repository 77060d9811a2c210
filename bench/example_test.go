package bench_test

import (
	"fmt"

	"github.com/agent-os/agentos/bench"
)

// One row of the rule table in its three renderings.
func ExampleRule_Cedar() {
	for _, r := range bench.Table() {
		if r.Name != "approve-payments.send-amount" {
			continue
		}
		fmt.Println(r.CEL())
		fmt.Print(r.Rego())
		cedar, ok := r.Cedar()
		fmt.Print(cedar)
		fmt.Println(ok)
	}
	// Output:
	// action.tool == "payments.send" && has(action.args.amount) && action.args.amount > 1000
	// approve contains "approve-payments.send-amount" if {
	// 	input.action.tool == "payments.send"
	// 	input.action.args.amount > 1000
	// }
	// @id("approve-payments.send-amount")
	// @effect("approve")
	// forbid (principal, action, resource == Tool::"payments.send")
	// when { context.args has amount && context.args.amount > 1000 };
	// true
}
