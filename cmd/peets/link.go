package main

import (
	"context"
	"fmt"

	enc "github.com/named-data/ndnd/std/encoding"

	"github.com/peets/peets/daemon/forwarder"
)

// linkDefault links to another forwarder and routes the default Peets
// namespace (/peets: user prefixes and room groups) over it.
func linkDefault(ctx context.Context, c *forwarder.Conn, uri string, extra ...enc.Name) error {
	root, _ := enc.NameFromStr("/peets")
	routes := append([]enc.Name{root}, extra...)
	if err := c.Link(ctx, uri, routes); err != nil {
		return fmt.Errorf("link %s: %w", uri, err)
	}
	return nil
}
