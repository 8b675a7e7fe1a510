"""The market: option chains and their smiles (`chain`), vol surfaces, pricing and Greeks (`pricing`), the
smile rule of replays, futures vol models, the variance clock of 0DTE trades, S&P 500 and VIX
history."""
