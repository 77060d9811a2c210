package main

import (
	"context"
	"fmt"
	"sync/atomic"

	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// crm is the CRM's MCP server, in this process on an in-memory transport,
// with a count of the calls each tool received (the proof that a refused
// refund never reached it).
type crm struct {
	client  mcpsdk.Transport // the gateway's end
	session *mcpsdk.ServerSession
	refunds atomic.Int64
	lookups atomic.Int64
}

type invoiceIn struct {
	Invoice string `json:"invoice" jsonschema:"the invoice number, INV-NNNN"`
}

type invoiceOut struct {
	Invoice  string  `json:"invoice"`
	Customer string  `json:"customer"`
	Amount   float64 `json:"amount"`
	Status   string  `json:"status"`
}

type refundIn struct {
	Invoice string  `json:"invoice" jsonschema:"the invoice number, INV-NNNN"`
	Amount  float64 `json:"amount" jsonschema:"EUR to refund"`
}

type refundOut struct {
	Refund string  `json:"refund"`
	Amount float64 `json:"amount"`
}

var invoices = map[string]invoiceOut{
	"INV-1042": {Invoice: "INV-1042", Customer: "ada@example.com", Amount: 29, Status: "paid twice"},
	"INV-0977": {Invoice: "INV-0977", Customer: "max@example.com", Amount: 460, Status: "paid"},
}

// startCRM starts the server; close ends its session.
func startCRM(ctx context.Context) (*crm, error) {
	c := &crm{}
	srv := mcpsdk.NewServer(&mcpsdk.Implementation{Name: "crm", Version: "1"}, nil)
	mcpsdk.AddTool(srv, &mcpsdk.Tool{Name: "lookup_invoice", Description: "Look up an invoice: its customer, amount and status."},
		func(_ context.Context, _ *mcpsdk.CallToolRequest, in invoiceIn) (*mcpsdk.CallToolResult, invoiceOut, error) {
			c.lookups.Add(1)
			inv, ok := invoices[in.Invoice]
			if !ok {
				return nil, invoiceOut{}, fmt.Errorf("no invoice %q", in.Invoice)
			}
			return nil, inv, nil
		})
	mcpsdk.AddTool(srv, &mcpsdk.Tool{Name: "refund", Description: "Refund an amount of an invoice to the customer's card."},
		func(_ context.Context, _ *mcpsdk.CallToolRequest, in refundIn) (*mcpsdk.CallToolResult, refundOut, error) {
			n := c.refunds.Add(1)
			return nil, refundOut{Refund: fmt.Sprintf("RF-%04d", n), Amount: in.Amount}, nil
		})
	ct, st := mcpsdk.NewInMemoryTransports()
	ss, err := srv.Connect(ctx, st, nil)
	if err != nil {
		return nil, err
	}
	c.client, c.session = ct, ss
	return c, nil
}

func (c *crm) close() {
	_ = c.session.Close()
	_ = c.session.Wait()
}
