"""The physical measure and what is measured on it: filtered historical simulation paths, managed
trades, historical replays, market scenarios for VaR/CVaR and the calibration against history."""
