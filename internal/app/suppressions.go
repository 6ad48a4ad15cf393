package app

import (
	"context"

	"github.com/preflight-email/preflight/suppression"
	"github.com/preflight-email/preflight/verify"
)

// Suppressions lets the pipeline read the suppression list in its own
// terms, so that verify links no store: the list's entry becomes verify's
// Suppression.
func Suppressions(l *suppression.List) verify.Suppressions {
	return suppressionLookup{l}
}

type suppressionLookup struct{ l *suppression.List }

func (s suppressionLookup) Lookup(ctx context.Context, key string) (verify.Suppression, bool, error) {
	e, ok, err := s.l.Lookup(ctx, key)
	if err != nil || !ok {
		return verify.Suppression{}, false, err
	}
	return verify.Suppression{At: e.SuppressedAt, Reason: e.Reason, Class: string(e.Class), Diagnostic: e.Diagnostic, Source: e.Source}, true, nil
}
