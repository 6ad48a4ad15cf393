package jobs

import (
	"context"
	"strings"
	"testing"

	"github.com/preflight-email/preflight/internal/storetest"
	"github.com/preflight-email/preflight/store"
)

// A job records the key that made it. (A database made before jobs had
// owners gains the column on open: store's TestAdoptSQLiteFile.)
func TestOwner(t *testing.T) { storetest.Each(t, testOwner) }

func testOwner(t *testing.T, engine store.Dialect) {
	ctx := context.Background()
	db, _ := openDB(t, engine)
	m := newManager(t, db, Config{}, newRuleVerifier())
	st, err := m.Create(ctx, strings.NewReader("email\nanna@shop.test\n"), CreateOptions{Owner: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Status(ctx, st.ID)
	if err != nil || got.Owner != "k1" {
		t.Fatalf("Status = %+v, %v; want owner k1", got, err)
	}
}
