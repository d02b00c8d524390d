"""The drug database of the built-in `drugs` task as plain data, for both examples (drugs_mcp imports it from here).

SIMULATED DATA: simplified illustrations written for a software benchmark. Not medical advice, incomplete,
never to guide a clinical decision.
"""

INTERACTIONS = {
    ('warfarin', 'amiodarone'): ('major', 'Amiodarone inhibits warfarin metabolism (CYP2C9); INR rises and bleeding risk increases. Simulated guidance: reduce warfarin dose and monitor INR closely.'),
    ('warfarin', 'aspirin'): ('major', 'Additive anticoagulant and antiplatelet effect; markedly increased bleeding risk, including gastrointestinal bleeding.'),
    ('simvastatin', 'amiodarone'): ('major', 'Amiodarone raises simvastatin exposure (CYP3A4); risk of myopathy and rhabdomyolysis. Simulated guidance: cap the simvastatin dose.'),
    ('lisinopril', 'potassium'): ('major', 'ACE inhibitors reduce potassium excretion; supplements can cause dangerous hyperkalemia.'),
    ('warfarin', 'simvastatin'): ('moderate', 'Simvastatin may modestly increase the anticoagulant effect of warfarin; monitor INR.'),
    ('aspirin', 'lisinopril'): ('moderate', 'NSAIDs may reduce the antihypertensive effect of ACE inhibitors and impair renal function.'),
    ('metformin', 'lisinopril'): ('minor', 'ACE inhibitors may slightly enhance the glucose-lowering effect of metformin.'),
    ('amiodarone', 'lisinopril'): ('minor', 'Additive hypotensive effect possible; monitor blood pressure.'),
}
"""(drug, drug) -> (severity, details); order does not matter."""

CONTRAINDICATIONS = {
    ('metformin', 'chronic_kidney_disease'): 'Contraindicated in severe renal impairment: accumulation raises the risk of lactic acidosis.',
    ('potassium', 'chronic_kidney_disease'): 'Contraindicated: impaired renal excretion of potassium makes supplementation likely to cause hyperkalemia.',
}
"""(drug, condition) -> details; every contraindication is major."""


def interaction(drug_a: str, drug_b: str) -> tuple[str, str] | None:
    return INTERACTIONS.get((drug_a, drug_b)) or INTERACTIONS.get((drug_b, drug_a))
