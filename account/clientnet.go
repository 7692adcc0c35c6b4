package account

import "net/netip"

// clientNet is what per-address throttles count a client by: an IPv4
// address as it is, an IPv6 address by its /64, since one IPv6 host is
// usually given a whole /64 and can send from any address in it (per
// address, it could rotate past every limit). Anything else, such as an
// empty address, is returned unchanged.
func clientNet(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil || !a.Is6() || a.Is4In6() {
		return addr
	}
	p, err := a.Prefix(64)
	if err != nil {
		return addr
	}
	return p.String()
}
