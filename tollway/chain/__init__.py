"""The devnet chain: tollway's RoundsManager/TicketBroker contracts, anvil, deploy and client."""
