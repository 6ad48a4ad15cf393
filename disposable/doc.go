// Package disposable tells whether an address uses a disposable (throwaway)
// domain, a free mailbox provider, or a role local part such as info@ or
// postmaster@. It is the "lists" stage of the pipeline (docs/design.md, stage 2).
//
// The lists are embedded text files under data/, generated from pinned npm
// packages by `go generate` (see data/PROVENANCE.md for sources, versions and
// licences). A [List] holds one immutable snapshot of the lists behind an
// atomic pointer: lookups never lock and never allocate, and [List.Reload]
// builds a new snapshot and swaps it in, so lookups running at the same time
// see either the old lists or the new ones, never a mix.
//
// # Matching
//
// Domains must already be ASCII (A-labels) and lowercase; the syntax stage
// normalizes them. A domain matches when it or any parent domain is listed, so
// x.mailinator.com and a.b.mailinator.com match mailinator.com. A domain is
// never both disposable and free: disposable wins.
//
// Role local parts match case-insensitively and ignore a "+tag" subaddress,
// so Info+news matches info. Quoted local parts are not unquoted.
//
// # Overrides file
//
// [Load] and [List.Reload] take an optional overrides file that adds or
// removes entries on top of the embedded lists. It is UTF-8 text with one
// directive per line:
//
//	<list> +<entry>   add entry to list
//	<list> -<entry>   remove entry from list
//
// where <list> is disposable, free or role. A '#' starts a comment that runs
// to the end of the line; blank lines are ignored. Directives apply in file
// order, so a later line wins over an earlier one. Domains may be written as
// U-labels; they are converted to A-labels (RFC 5891 §4). Entries follow the
// rules of the embedded lists: a domain needs at least two labels, and a role
// entry is a dot-atom (RFC 5322 §3.2.3) of at most 64 octets without '+'.
// For example:
//
//	# our own throwaway test domain
//	disposable +my-temp-mail.example
//	free -gmx.de
//	role +billing-team
//
// Removing a domain removes that exact entry; a subdomain still matches a
// listed parent. After the directives are applied, every free domain that is
// disposable (itself or through a parent) is dropped from the free list, so
// to turn a disposable domain into a free one, remove it from disposable and
// add it to free. An invalid line makes the whole file fail with a
// [*LineError] naming the file and line; Reload then keeps the lists it had.
package disposable

//go:generate go run ./internal/gen -out data
