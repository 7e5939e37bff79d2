"""The works documents' data from the database: a projet de décompte's PDF laid out as a décompte (`decompte`), and
the claimed / admitted lines and signatories of an état d'acompte's PDF (`etat_lines`). Read-only: loaded under the
tenant who asks (or the documents job's), arranged into the dataclasses of `chorus_chain.documents`."""
