package atr_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/agent-os/agentos/atr"
)

type forecastArgs struct {
	City string `json:"city" jsonschema:"city name"`
	Days int    `json:"days" jsonschema:"how many days, 1 to 7"`
}

// Register a Go function as a typed tool and export it for OpenAI.
func ExampleRegister() {
	r := atr.New()
	err := atr.Register(r, "weather.forecast", func(_ context.Context, a forecastArgs) (string, error) {
		return fmt.Sprintf("%s: sunny for %d days", a.City, a.Days), nil
	}, atr.Meta{Description: "Weather forecast for a city.", SideEffect: atr.Network})
	if err != nil {
		fmt.Println(err)
		return
	}
	out, _ := json.MarshalIndent(r.OpenAI(), "", "  ")
	fmt.Println(string(out))
	// Output:
	// [
	//   {
	//     "type": "function",
	//     "function": {
	//       "name": "weather_forecast",
	//       "description": "Weather forecast for a city.",
	//       "parameters": {
	//         "type": "object",
	//         "properties": {
	//           "city": {
	//             "type": "string",
	//             "description": "city name"
	//           },
	//           "days": {
	//             "type": "integer",
	//             "description": "how many days, 1 to 7"
	//           }
	//         },
	//         "required": [
	//           "city",
	//           "days"
	//         ],
	//         "additionalProperties": false
	//       },
	//       "strict": true
	//     }
	//   }
	// ]
}

// Resolve a version by constraint and call it; invalid arguments never
// reach the function, and the error names the field.
func ExampleTool_Call() {
	r := atr.New()
	for _, v := range []string{"1.0.0", "1.4.0", "2.0.0"} {
		_ = atr.Register(r, "weather.forecast", func(_ context.Context, a forecastArgs) (string, error) {
			return fmt.Sprintf("v%s %s: sunny for %d days", v, a.City, a.Days), nil
		}, atr.Meta{Version: v, SideEffect: atr.Network})
	}
	name, constraint, _ := atr.ParseRef("weather.forecast@^1")
	tool, _ := r.Resolve(name, constraint)

	out, err := tool.Call(context.Background(), map[string]any{"city": "Paris", "days": int64(3)})
	fmt.Println(out, err)

	_, err = tool.Call(context.Background(), map[string]any{"city": "Paris", "days": "three"})
	if ae, ok := errors.AsType[*atr.ArgError](err); ok {
		fmt.Println(ae.Field, errors.Is(err, atr.ErrInvalidArgs))
	}
	// Output:
	// v1.4.0 Paris: sunny for 3 days <nil>
	// /days true
}
