/** Code systems and the few real clinical codes the synthetic data uses (no patient data here). */
export const LOINC = "http://loinc.org";
export const SNOMED = "http://snomed.info/sct";
export const RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm";
export const CVX = "http://hl7.org/fhir/sid/cvx";
export const UCUM = "http://unitsofmeasure.org";
export const ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode";
export const INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation";
export const CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical";
export const CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status";
export const CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category";
export const ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical";
export const ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification";
/** Identifier system of this provider's MRNs in generated resources. */
export const MRN_SYSTEM = "urn:medrec:mrn";

/** Lab tests with LOINC code, UCUM unit and adult reference range. */
export const LAB_TESTS = {
  hba1c: {
    loinc: "4548-4",
    name: "Hemoglobin A1c/Hemoglobin.total in Blood",
    unit: "%",
    low: 4.0,
    high: 5.6,
  },
  creatinine: {
    loinc: "2160-0",
    name: "Creatinine [Mass/volume] in Serum or Plasma",
    unit: "mg/dL",
    low: 0.7,
    high: 1.3,
  },
  ldl: {
    loinc: "18262-6",
    name: "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay",
    unit: "mg/dL",
    low: 0,
    high: 100,
  },
} as const;

export type LabTestKey = keyof typeof LAB_TESTS;

/** Medications: RxNorm clinical drugs. */
export const MEDICATIONS = {
  metformin: { rxnorm: "860975", name: "metformin hydrochloride 500 MG Oral Tablet", dose: 500, unit: "mg" },
  lisinopril: { rxnorm: "314076", name: "lisinopril 10 MG Oral Tablet", dose: 10, unit: "mg" },
  atorvastatin: { rxnorm: "617310", name: "atorvastatin 20 MG Oral Tablet", dose: 20, unit: "mg" },
} as const;

/** Synthetic names and places: made up, not from any record. */
export const GIVEN_NAMES = {
  female: ["Ada", "Grace", "Mira", "Lena", "Rosa", "Ines", "Nora", "Tess"],
  male: ["Alan", "Omar", "Felix", "Ivo", "Hugo", "Leon", "Milo", "Theo"],
} as const;
export const FAMILY_NAMES = ["Rivera", "Okafor", "Lindqvist", "Tanaka", "Moreau", "Novak", "Haddad", "Quinn"];
export const CITIES = ["Springfield", "Riverside", "Fairview", "Greenville", "Madison"];
