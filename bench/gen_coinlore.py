#!/usr/bin/env python3
"""Write N CoinLore-shaped ticker lines (numbers as strings, ~280 bytes each) to stdout.
Deterministic: the same N gives the same bytes.  Two thirds have price_usd >= 1."""
import json, sys
n = int(sys.argv[1]) if len(sys.argv) > 1 else 300000
names = ["Bitcoin", "Ethereum", "Tether", "Solana", "Cardano", "Dogecoin", "Polkadot"]
out = sys.stdout
for i in range(n):
    nm = names[i % len(names)]
    price = (i * 7919 % 100000) / 100.0 if i % 3 else (i % 97) / 100.0
    rec = {"id": str(i), "symbol": nm[:3].upper(), "name": nm, "nameid": nm.lower(), "rank": i % 100 + 1,
           "price_usd": "%.2f" % price, "percent_change_24h": "%.2f" % ((i % 200 - 100) / 10),
           "percent_change_1h": "0.12", "percent_change_7d": "3.60", "price_btc": "%.8f" % (price / 44000),
           "market_cap_usd": "%.2f" % (price * 1000000), "volume24": "%.2f" % (i * 13.37 % 1e7),
           "csupply": "18918406.00", "tsupply": "18918406", "msupply": "21000000"}
    out.write(json.dumps(rec, separators=(",", ":")) + "\n")
