package callrec

import (
	"context"
	"testing"
)

func TestIsList(t *testing.T) {
	for m, want := range map[string]bool{
		"tools/list": true, "resources/list": true, "resources/templates/list": true, "prompts/list": true,
		"tools/call": false, "resources/read": false, "roots/list": false, "": false,
	} {
		if IsList(m) != want {
			t.Errorf("IsList(%q) = %v", m, !want)
		}
	}
}

func TestInventory(t *testing.T) {
	ctx := context.Background()
	if IsInventory(ctx) || !IsInventory(Inventory(ctx)) {
		t.Error("the inventory mark is not carried by the context alone")
	}
}
