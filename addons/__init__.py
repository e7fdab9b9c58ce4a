"""Add-on adapters. Each subpackage imports only ``marketplace.adapters`` and its drivers."""
