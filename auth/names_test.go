package auth_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/chatr/chatr"
	"github.com/chatr/chatr/auth"
)

// NameCase is a display name and whether CleanName accepts it. The cases
// live in testdata/names.json, which web's browser test runs through the
// name field's rule too.
type nameCase struct {
	Name string `json:"name"`
	OK   bool   `json:"ok"`
}

func TestCleanName(t *testing.T) {
	b, err := os.ReadFile("testdata/names.json")
	if err != nil {
		t.Fatal(err)
	}
	var cases []nameCase
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	for _, tc := range cases {
		got, err := auth.CleanName(tc.Name, auth.DefaultMaxNameLength)
		if tc.OK && err != nil {
			t.Errorf("CleanName(%+q): %v, want accepted", tc.Name, err)
		}
		if !tc.OK && chatr.ErrorCode(err) != chatr.EINVALID {
			t.Errorf("CleanName(%+q) = %+q, %v; want an EINVALID error", tc.Name, got, err)
		}
	}
}
