package mx

import (
	"context"
	"encoding/json"
)

// sharedGet reads domain's answer from the fleet's shared cache.
func (r *Resolver) sharedGet(ctx context.Context, name string) (entry[Result], bool) {
	if r.shared == nil {
		return entry[Result]{}, false
	}
	b, expires, ok := r.shared.Get(ctx, name)
	if !ok {
		return entry[Result]{}, false
	}
	var res Result
	if err := json.Unmarshal(b, &res); err != nil {
		return entry[Result]{}, false
	}
	return entry[Result]{val: res, expires: expires}, true
}

// sharedSet writes domain's answer through to the fleet's shared cache,
// for as long as it is valid here.
func (r *Resolver) sharedSet(ctx context.Context, name string, e entry[Result]) {
	if r.shared == nil {
		return
	}
	ttl := e.expires.Sub(r.now())
	if ttl <= 0 {
		return
	}
	if b, err := json.Marshal(e.val); err == nil {
		r.shared.Set(ctx, name, b, ttl)
	}
}
