// Package chain holds the transaction types of the DeFi example. They live
// in a package of their own so that policy can name them as the pipe
// reports them, "chain.Tx", whichever program runs the example.
package chain

import "github.com/agent-os/agentos"

// Tx is one transaction a bot submits: a transfer out of the vault.
type Tx struct {
	ID     string // block-index
	From   agentos.AgentID
	To     string
	Amount int64 // whole USDC
	Memo   string
}

// Block is an ordered batch of transactions, executed one after another.
type Block struct {
	Number int
	Txs    []Tx
}
