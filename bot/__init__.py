"""The running bot: channels, conversation loop, dispatcher and command line around the pure flow engine."""
