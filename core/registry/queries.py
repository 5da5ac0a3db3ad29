"""SQL of the device registry."""

from __future__ import annotations

from typing import Final


class REGISTRY:
    """Communities, buildings and devices."""

    add_community: Final = """
        INSERT INTO communities (id, name, district, lat, lon, site_power_limit_kw)
        VALUES (%s, %s, %s, %s, %s, %s)"""
    add_building: Final = """
        INSERT INTO buildings (id, community_id, name, floors, households) VALUES (%s, %s, %s, %s, %s)"""
    add_parking_space: Final = """
        INSERT INTO parking_spaces
            (id, community_id, label, space_type, sensor_device_id, has_charger, accessible, covered,
             availability, lat, lon)
        VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"""
    add_charger: Final = """
        INSERT INTO chargers (device_id, space_id, shared_by, max_power_kw) VALUES (%s, %s, %s, %s)"""
    building_ids: Final = "SELECT id FROM buildings WHERE community_id = %s"
    parking_space_ids: Final = "SELECT id FROM parking_spaces WHERE community_id = %s"
    charger_ids: Final = """
        SELECT c.device_id FROM chargers c JOIN devices d ON d.id = c.device_id WHERE d.community_id = %s"""
    add_device: Final = """
        INSERT INTO devices (id, community_id, kind, building_id, location, mqtt_username)
        VALUES (%s, %s, %s, %s, %s, %s)"""
    community_exists: Final = "SELECT 1 FROM communities WHERE id = %s"
    devices_by_id: Final = """
        SELECT id, community_id, kind, decommissioned_at IS NOT NULL
        FROM devices WHERE id = ANY(%s)"""
    all_devices: Final = "SELECT id, community_id, kind, decommissioned_at IS NOT NULL FROM devices"
    decommission: Final = """
        UPDATE devices SET decommissioned_at = now()
        WHERE id = %s AND decommissioned_at IS NULL RETURNING id"""
