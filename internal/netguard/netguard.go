// Package netguard is the one guarded way Preflight connects on a user's
// behalf. Public decides which IP addresses may be dialled; Dialer
// resolves, refuses what Public refuses (unless allowed) and dials the
// addresses it checked. The SMTP probe and the jobs webhook both dial
// through a Dialer, so that neither can be aimed at loopback or an
// internal network (docs/design.md "Rules of conduct": refuse loopback,
// private, link-local, multicast and unspecified targets), and the check
// runs in one place.
package netguard

import "net/netip"

// Public reports whether a is an address we may connect to on a user's
// behalf (an MX host, a webhook target). It allows by
// default only what is global unicast and denies the rest: every range of
// the IANA IPv4 and IPv6 special-purpose address registries (RFC 6890 and
// its updates) that is not globally reachable, or that no MX host lives in.
// Formats that embed an IPv4 address (IPv4-mapped, the NAT64 well-known
// prefix of RFC 6052, 6to4 of RFC 3056) are judged by that address, so
// 64:ff9b::a00:1 is as private as 10.0.0.1. A zoned address is link-scoped
// and never public.
func Public(a netip.Addr) bool {
	if !a.IsValid() || a.Zone() != "" {
		return false
	}
	if a.Is4() || a.Is4In6() {
		return isPublic4(a.Unmap())
	}
	b := a.As16()
	embedded := netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
	switch {
	case prefix6(96, 0x00, 0x64, 0xff, 0x9b).Contains(a): // NAT64 well-known prefix, RFC 6052 §2.1
		return isPublic4(embedded)
	case prefix6(16, 0x20, 0x02).Contains(a): // 6to4, RFC 3056 §2: the IPv4 address follows 2002::/16
		return isPublic4(netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}))
	}
	// IANA allocates global unicast from 2000::/3 only (RFC 4291 §2.4).
	// Outside it are ::/128, ::1, the IPv4-compatible ::/96, 64:ff9b:1::/48
	// (RFC 8215), 100::/64 (discard, RFC 6666), fc00::/7, fe80::/10 and
	// ff00::/8, among others.
	if !prefix6(3, 0x20).Contains(a) {
		return false
	}
	for _, p := range [...]netip.Prefix{
		prefix6(23, 0x20, 0x01),             // IETF protocol assignments (Teredo, ORCHID, ...), RFC 2928
		prefix6(32, 0x20, 0x01, 0x0d, 0xb8), // documentation, RFC 3849
		prefix6(20, 0x3f, 0xff),             // documentation, RFC 9637
	} {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// isPublic4 reports whether the IPv4 address a is global unicast: not in
// any range of the IANA IPv4 special-purpose address registry that is not
// globally reachable.
func isPublic4(a netip.Addr) bool {
	for _, p := range [...]netip.Prefix{
		prefix4(8, 0, 0, 0, 0),       // "this network", RFC 791
		prefix4(8, 10, 0, 0, 0),      // private, RFC 1918
		prefix4(10, 100, 64, 0, 0),   // shared address space (carrier-grade NAT), RFC 6598
		prefix4(8, 127, 0, 0, 0),     // loopback, RFC 1122
		prefix4(16, 169, 254, 0, 0),  // link local, RFC 3927
		prefix4(12, 172, 16, 0, 0),   // private, RFC 1918
		prefix4(24, 192, 0, 0, 0),    // IETF protocol assignments, RFC 6890
		prefix4(24, 192, 0, 2, 0),    // documentation, RFC 5737
		prefix4(24, 192, 88, 99, 0),  // 6to4 relay anycast (deprecated), RFC 7526
		prefix4(16, 192, 168, 0, 0),  // private, RFC 1918
		prefix4(15, 198, 18, 0, 0),   // benchmarking, RFC 2544
		prefix4(24, 198, 51, 100, 0), // documentation, RFC 5737
		prefix4(24, 203, 0, 113, 0),  // documentation, RFC 5737
		prefix4(4, 224, 0, 0, 0),     // multicast, RFC 5771
		prefix4(4, 240, 0, 0, 0),     // reserved, RFC 1112, and the limited broadcast address
	} {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

func prefix4(bits int, a, b, c, d byte) netip.Prefix {
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{a, b, c, d}), bits)
}

// prefix6 is the IPv6 prefix of the given length whose address starts
// with lead (the rest zero).
func prefix6(bits int, lead ...byte) netip.Prefix {
	var b [16]byte
	copy(b[:], lead)
	return netip.PrefixFrom(netip.AddrFrom16(b), bits)
}
