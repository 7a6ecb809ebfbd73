package restapi

import (
	"context"

	"github.com/chatr/chatr/hub"
)

// ClusterIndex answers the API's existence and listing queries for every
// node of a cluster. A hub whose index (hub.Index) implements it is queried
// through it; any other hub answers for this node.
type ClusterIndex interface {
	ConnectionExists(ctx context.Context, connID string) (bool, error)
	UserExists(ctx context.Context, userID string) (bool, error)
	GroupExists(ctx context.Context, group string) (bool, error)
	// GroupMembers returns the group's connections (ID and UserID set).
	GroupMembers(ctx context.Context, group string) ([]*hub.ConnInfo, error)
	ConnectionGroups(ctx context.Context, connID string) ([]string, error)
	UserGroups(ctx context.Context, userID string) ([]string, error)
	UserConnectionIDs(ctx context.Context, userID string) ([]string, error)
	// ConnectionIDs returns every connection, or the group's when group is not "".
	ConnectionIDs(ctx context.Context, group string) ([]string, error)
}

// view returns what answers queries about h: its cluster-wide index when it
// has one, else the hub itself.
func view(h *hub.Hub) ClusterIndex {
	if ix, ok := h.Index().(ClusterIndex); ok {
		return ix
	}
	return local{h}
}

// local answers for this node, from the hub.
type local struct{ h *hub.Hub }

func (l local) ConnectionExists(_ context.Context, id string) (bool, error) {
	return l.h.ConnectionExists(id), nil
}
func (l local) UserExists(_ context.Context, id string) (bool, error) { return l.h.UserExists(id), nil }
func (l local) GroupExists(_ context.Context, g string) (bool, error) {
	return l.h.GroupExists(g), nil
}
func (l local) GroupMembers(_ context.Context, g string) ([]*hub.ConnInfo, error) {
	return l.h.GroupMembers(g), nil
}
func (l local) ConnectionGroups(_ context.Context, id string) ([]string, error) {
	return l.h.ConnectionGroups(id), nil
}
func (l local) UserGroups(_ context.Context, id string) ([]string, error) {
	return l.h.UserGroups(id), nil
}
func (l local) UserConnectionIDs(_ context.Context, id string) ([]string, error) {
	return l.h.UserConnectionIDs(id), nil
}
func (l local) ConnectionIDs(_ context.Context, g string) ([]string, error) {
	return l.h.ConnectionIDs(g), nil
}
