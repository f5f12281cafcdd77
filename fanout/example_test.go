package fanout_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/bulwark-mcp/bulwark"
	"github.com/bulwark-mcp/bulwark/fanout"
)

func ExampleAll() {
	var name string
	errs := fanout.All(context.Background(),
		fanout.Part{Name: "customer", Run: func(ctx context.Context) error {
			name = "Ada Lovelace"
			return nil
		}},
		fanout.Part{Name: "loyalty", Run: func(ctx context.Context) error {
			return bulwark.Unavailable("the loyalty service is unavailable", 0, errors.New("HTTP 503"))
		}},
		fanout.Part{Name: "orders", Run: func(ctx context.Context) error {
			panic("index out of range")
		}},
	)
	fmt.Println(name, errs["customer"])
	// What a partial answer tells the model about each missing part:
	fmt.Println(errs["loyalty"])
	fmt.Println(bulwark.ErrorOf(errs["orders"]))
	// Output:
	// Ada Lovelace <nil>
	// the loyalty service is unavailable
	// internal error
}
