"""Public geography of Hampshire as data: which local authority each postcode district is in.

The county council area (Southampton and Portsmouth are separate unitary authorities) has
11 district and borough councils. A postcode district can straddle a boundary; each is
assigned to the authority holding most of its residents. The synthetic county writes
postcodes from this table and the feature pipeline maps postcode district → authority with it.
"""

from __future__ import annotations

#: The 11 local authorities of the Hampshire County Council area.
AUTHORITIES: tuple[str, ...] = (
    "Basingstoke and Deane",
    "East Hampshire",
    "Eastleigh",
    "Fareham",
    "Gosport",
    "Hart",
    "Havant",
    "New Forest",
    "Rushmoor",
    "Test Valley",
    "Winchester",
)

#: Postcode districts of each authority.
AUTHORITY_POSTCODE_DISTRICTS: dict[str, tuple[str, ...]] = {
    "Basingstoke and Deane": ("RG21", "RG22", "RG23", "RG24", "RG25", "RG26", "RG28"),
    "East Hampshire": ("GU30", "GU31", "GU32", "GU33", "GU34", "GU35"),
    "Eastleigh": ("SO30", "SO50", "SO53"),
    "Fareham": ("PO14", "PO15", "PO16", "PO17", "SO31"),
    "Gosport": ("PO12", "PO13"),
    "Hart": ("GU17", "GU46", "GU51", "GU52", "RG27", "RG29"),
    "Havant": ("PO7", "PO8", "PO9", "PO10", "PO11"),
    "New Forest": ("BH24", "BH25", "SO40", "SO41", "SO42", "SO43", "SO45", "SP6"),
    "Rushmoor": ("GU11", "GU12", "GU14"),
    "Test Valley": ("SO20", "SO51", "SO52", "SP10", "SP11"),
    "Winchester": ("SO21", "SO22", "SO23", "SO24", "SO32"),
}

#: Postcode district (outward code, e.g. ``SO23``) → local authority.
POSTCODE_DISTRICT_TO_AUTHORITY: dict[str, str] = {
    district: authority
    for authority, districts in AUTHORITY_POSTCODE_DISTRICTS.items()
    for district in districts
}
