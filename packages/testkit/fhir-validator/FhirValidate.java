import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.DefaultProfileValidationSupport;
import ca.uhn.fhir.validation.FhirValidator;
import ca.uhn.fhir.validation.SingleValidationMessage;
import ca.uhn.fhir.validation.ValidationResult;
import com.google.gson.Gson;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import org.hl7.fhir.common.hapi.validation.support.CommonCodeSystemsTerminologyService;
import org.hl7.fhir.common.hapi.validation.support.InMemoryTerminologyServerValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.SnapshotGeneratingValidationSupport;
import org.hl7.fhir.common.hapi.validation.support.ValidationSupportChain;
import org.hl7.fhir.common.hapi.validation.validator.FhirInstanceValidator;

/**
 * MedRec's test validator: HAPI FHIR's FhirInstanceValidator with the R4 core definitions
 * (structure definitions, value sets and code systems shipped in hapi-fhir-validation-resources-r4),
 * loaded once. Reads one input per line on stdin — a file path, or a JSON document on one line
 * (starting with "{") — and writes one JSON line per input on stdout:
 * {"input": n, "issues": [{"severity", "location", "line", "column", "messageId", "message"}]}.
 * The first line written is {"ready": true} once a warm-up resource has been validated. Inputs are
 * validated on as many threads as there are processors (HAPI's FhirValidator is thread-safe);
 * answers are written in the order of the inputs.
 *
 * Offline: no terminology server. The chain answers from the core package (FHIR's own code systems
 * and value sets), from HAPI's built-in common code systems (languages, MIME types, UCUM, ISO
 * country and currency codes) and expands value sets in memory. Codes of code systems that are not
 * in the core package (SNOMED CT, LOINC, RxNorm, CVX, …) cannot be looked up: HAPI reports that
 * with its own severity — nothing is filtered here.
 */
public final class FhirValidate {
  public static void main(String[] args) throws Exception {
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    FhirContext ctx = FhirContext.forR4();
    ValidationSupportChain chain =
        new ValidationSupportChain(
            new DefaultProfileValidationSupport(ctx),
            new CommonCodeSystemsTerminologyService(ctx),
            new InMemoryTerminologyServerValidationSupport(ctx),
            new SnapshotGeneratingValidationSupport(ctx));
    FhirInstanceValidator module = new FhirInstanceValidator(chain);
    // Profiles not in the R4 core (Synthea declares US Core's) are not checked: a warning, not an error.
    module.setErrorForUnknownProfiles(false);
    FhirValidator validator = ctx.newValidator();
    validator.registerValidatorModule(module);
    Gson gson = new Gson();

    validator.validateWithResult("{\"resourceType\":\"Patient\",\"gender\":\"female\"}");
    out.println("{\"ready\":true}");

    ExecutorService pool = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors());
    BlockingQueue<Future<String>> answers = new LinkedBlockingQueue<>();
    Future<String> end = CompletableFuture.completedFuture(null);
    Thread writer =
        new Thread(
            () -> {
              try {
                for (Future<String> next = answers.take(); next != end; next = answers.take())
                  out.println(next.get());
              } catch (Exception e) {
                e.printStackTrace();
                System.exit(1);
              }
            });
    writer.start();
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    String line;
    int n = 0;
    while ((line = in.readLine()) != null) {
      if (line.isBlank()) continue;
      String input = line;
      int index = n++;
      answers.put(pool.submit(() -> gson.toJson(validate(validator, index, input))));
    }
    answers.put(end);
    writer.join();
    pool.shutdown();
  }

  private static Map<String, Object> validate(FhirValidator validator, int index, String input) {
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("input", index);
    try {
      String text = input.startsWith("{") ? input : Files.readString(Path.of(input), StandardCharsets.UTF_8);
      ValidationResult result = validator.validateWithResult(text);
      List<Map<String, Object>> issues = new ArrayList<>();
      for (SingleValidationMessage m : result.getMessages()) {
        Map<String, Object> issue = new LinkedHashMap<>();
        issue.put("severity", m.getSeverity().getCode());
        issue.put("location", m.getLocationString());
        issue.put("line", m.getLocationLine());
        issue.put("column", m.getLocationCol());
        issue.put("messageId", m.getMessageId());
        issue.put("message", m.getMessage());
        issues.add(issue);
      }
      answer.put("issues", issues);
    } catch (Exception e) {
      answer.put("failure", e.getClass().getSimpleName() + ": " + e.getMessage());
    }
    return answer;
  }
}
