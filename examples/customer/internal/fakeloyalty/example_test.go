package fakeloyalty_test

import (
	"fmt"
	"io"
	"net/http"

	"github.com/bulwark-mcp/bulwark/examples/customer/internal/fakeloyalty"
)

func ExampleStart() {
	f := &fakeloyalty.Service{}
	url, stop, err := fakeloyalty.Start(f)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer stop()
	get := func() {
		resp, err := http.Get(url + "/v1/loyalty/C-000042")
		if err != nil {
			fmt.Println(err)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		fmt.Printf("%d %s", resp.StatusCode, b)
	}
	get()
	f.SetDown(true)
	get()
	fmt.Println("requests:", f.Calls())
	// Output:
	// 200 {"customer_id":"C-000042","tier":"platinum","points":34619}
	// 503 loyalty service down
	// requests: 2
}
