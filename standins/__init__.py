"""Development stand-ins for what cannot be reached from here (the platform, Salesforce)."""
