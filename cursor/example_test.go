package cursor_test

import (
	"errors"
	"fmt"
	"strings"

	"github.com/bulwark-mcp/bulwark/cursor"
)

func ExampleNew() {
	current := []byte(strings.Repeat("k", 32)) // from a secret, in a real server
	codec, err := cursor.New(current)
	if err != nil {
		panic(err)
	}
	next := codec.Encode("C-000050", "lovelace")

	after, err := codec.Decode(next, "lovelace")
	fmt.Println(after, err)
	_, err = codec.Decode(next, "hopper")
	fmt.Println(errors.Is(err, cursor.ErrInvalid))
	_, err = cursor.New([]byte("short"))
	fmt.Println(err)
	// Output:
	// C-000050 <nil>
	// true
	// cursor: key 0 is 5 bytes long; it must be at least 32
}

// Rotating the key: the new key signs, the old one is still accepted.
func ExampleNew_rotation() {
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	old, _ := cursor.New(oldKey)
	issued := old.Encode("42", "")

	rotated, _ := cursor.New(newKey, oldKey)
	fmt.Println(rotated.Decode(issued, ""))
	retired, _ := cursor.New(newKey)
	fmt.Println(retired.Decode(issued, ""))
	// Output:
	// 42 <nil>
	//  cursor: not a cursor issued for this listing
}
