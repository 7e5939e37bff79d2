"""The field names of an API refusal, from webargs' nested messages (chorus_chain/api/problems.py)."""
from chorus_chain.api.problems import validation_errors


def test_fields_are_named_as_sent_nested_and_in_lists():
    errors = validation_errors({"json": {"numero": ["Missing data for required field."],
                                         "pieces": {0: {"montant_ht": ["Not a valid number."]}},
                                         "fichier": {"_schema": ["Invalid input type."]}}})
    assert [e["field"] for e in errors] == ["numero", "pieces[0].montant_ht", "fichier"]
    assert all(e["message"] for e in errors)


def test_the_whole_request_is_none_and_an_empty_name_is_the_empty_string():
    assert [e["field"] for e in validation_errors({"json": {"_schema": ["Invalid input type."]}})] == [None]
    # `?=false`: a query parameter sent with an empty name is named "" (not taken for the whole request).
    [error] = validation_errors({"query": {"": ["Unknown field."]}})
    assert error["field"] == "" and error["message"].startswith("Champ inconnu")
