package node

import "medwallet/wallet/kv"

type kvTxn = kv.Txn
