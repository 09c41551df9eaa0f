package geodr

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/tandem-streaming/tandem/internal/errcode"
	"github.com/tandem-streaming/tandem/internal/meta"
)

// Alias name reservations (meta.AliasReservation). Deleting an alias, and the secondary's side
// going away with break pairing, reserve its name in this region for the pairing it belonged
// to. A reserved name may be taken here only:
//
//   - by the namespace it is reserved for (the same namespace, not a later one of its name);
//   - as the secondary of a pairing whose primary is the reservation's partner namespace in
//     its region and proves one of the pairing's link keys (a claim, see claimProof): this is
//     how an alias fails forward into the region it lost;
//   - with this region's node admin key.
//
// Anyone else gets Conflict naming the reservation and the way out. The operator releases a
// name with DELETE …/disasterRecoveryConfigs/{alias}?release=true (Release).

// maxClaims bounds the claims of one pair request that are checked.
const maxClaims = 4

// claimProof proves that a primary knows key, a reservation key of the pairing (see
// meta.ReservationKey), without revealing it. It binds the alias and both sides of the new
// pairing, with its fresh link key, so it serves for no other pairing and no other region.
func claimProof(key, alias string, primary meta.Peer, region, ns, linkKey string) string {
	mac := hmac.New(sha256.New, []byte(key))
	for _, f := range []string{"tandem alias claim v1", strings.ToLower(alias), primary.Region, primary.Namespace, region, ns, linkKey} {
		mac.Write([]byte(f))
		mac.Write([]byte{0})
	}
	return hex.EncodeToString(mac.Sum(nil))
}

// claims returns the proofs local namespace ns sends with a pair request for alias: one per
// reservation key it knows, from the link keys of its alias configuration prev (nil when it
// holds none) and from its own reservation of the name in this region.
func (m *Manager) claims(ns string, prev *meta.AliasConfig, req PairRequest, region, partnerNS string) []string {
	var keys []string
	if prev != nil {
		keys = append(keys, meta.ReservationKey(prev.LinkKey), meta.ReservationKey(prev.FormerLinkKey))
	}
	if r, ok := m.b.AliasReservation(req.Alias); ok && m.reservedFor(r, ns) {
		keys = append(keys, r.Keys...)
	}
	var out []string
	for _, k := range keys {
		if k != "" && len(out) < maxClaims {
			out = append(out, claimProof(k, req.Alias, req.Primary, region, partnerNS, req.LinkKey))
		}
	}
	return out
}

// reservedFor reports whether r is reserved for local namespace ns: the same namespace, not
// one created again under its name.
func (m *Manager) reservedFor(r meta.AliasReservation, ns string) bool {
	if r.Namespace != ns {
		return false
	}
	info, err := m.b.Namespace(ns)
	return err == nil && info.CreatedAt.Equal(r.NamespaceCreatedAt)
}

// checkReserved refuses local namespace ns taking alias name when the name is reserved here
// for another pairing. admin says the caller has this node's admin key; req is the pair
// request when ns is to become a secondary (nil when it is to be the primary).
func (m *Manager) checkReserved(ns, alias string, admin bool, req *PairRequest) error {
	r, ok := m.b.AliasReservation(alias)
	if !ok || admin || m.reservedFor(r, ns) {
		return nil
	}
	if req != nil && r.Partner != nil && req.Primary.Region == r.Partner.Region && req.Primary.Namespace == r.Partner.Namespace {
		claims := req.Claims[:min(len(req.Claims), maxClaims)]
		for _, key := range r.Keys {
			want := claimProof(key, alias, req.Primary, m.b.Region(), ns, req.LinkKey)
			for _, c := range claims {
				if hmac.Equal([]byte(c), []byte(want)) {
					return nil
				}
			}
		}
	}
	return errcode.New(errcode.Conflict, "%s", m.describeReservation(r))
}

// describeReservation says what r reserves, for whom, and how to release it.
func (m *Manager) describeReservation(r meta.AliasReservation) string {
	partner := ""
	if r.Partner != nil {
		partner = ", or as the secondary of a pairing whose primary is namespace " + r.Partner.Namespace +
			" in region " + r.Partner.Region + " (it proves the pairing's link key)"
	}
	return "alias name \"" + r.Alias + "\" is reserved in region " + m.b.Region() + " for the pairing it belonged to: it was the alias of namespace " +
		r.Namespace + " until it was deleted; it can be used here only by " + r.Namespace + partner +
		", or with this region's admin key; pick another alias name, or ask the operator to release it with 'tandem alias delete " +
		r.Namespace + "/" + r.Alias + " --release'"
}

// Release deletes namespace ns's unpaired alias without reserving its name, and drops the
// reservation of the name in this region: any reservation with the admin key, else only one
// reserved for ns. It is DELETE …/disasterRecoveryConfigs/{alias}?release=true.
func (m *Manager) Release(ctx context.Context, ns, alias string, admin bool) error {
	m.opMu.Lock()
	defer m.opMu.Unlock()
	cfg, err := m.aliasOf(ns, alias)
	held := err == nil
	if held {
		if err := deletable(cfg, ns, alias); err != nil {
			return err
		}
		if err := m.b.ClearAlias(ctx, ns); err != nil {
			return err
		}
	}
	r, reserved := m.b.AliasReservation(alias)
	switch {
	case reserved && (admin || m.reservedFor(r, ns)):
		if err := m.b.ReleaseAlias(ctx, r.Alias); err != nil {
			return err
		}
		m.log.Info("alias name reservation released", "alias", r.Alias, "namespace", r.Namespace, "by_admin", admin)
		return nil
	case held:
		return nil
	case reserved && !admin:
		return errcode.New(errcode.Forbidden, "alias name %q is reserved in region %s for namespace %s, not %s; only %s or the node admin key may release it",
			r.Alias, m.b.Region(), r.Namespace, ns, r.Namespace)
	}
	return errcode.New(errcode.NotFound, "namespace %s has no alias %q and the name is not reserved in region %s", ns, alias, m.b.Region())
}

// deletable refuses deleting a paired alias.
func deletable(cfg meta.AliasConfig, ns, alias string) error {
	if !cfg.Paired() {
		return nil
	}
	where := "break the pairing first (on the primary)"
	if cfg.Role == meta.RoleSecondary {
		where = "break the pairing on the primary, " + describePeer(cfg.Partner) + ", or fail over here"
	}
	return errcode.New(errcode.Conflict, "alias %q of namespace %s is paired and cannot be deleted; %s", alias, ns, where)
}
