/*
 * bench:gatekeeper's peer: the same resources served by HAPI FHIR's plain RestfulServer (no JPA,
 * no database) from an in-memory provider, on Jetty, bound to 127.0.0.1. It answers
 * GET /fhir/Patient/{id}/$everything with a searchset Bundle of every resource the file held,
 * which is what our GET /v1/relationships/{id}/records answers the patient.
 *
 *   java -cp <classes>:<class path> PeerServer <port> <bundle.json>
 *
 * Prints "listening <port>" once it accepts connections.
 */
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.model.valueset.BundleTypeEnum;
import ca.uhn.fhir.rest.annotation.IdParam;
import ca.uhn.fhir.rest.annotation.Operation;
import ca.uhn.fhir.rest.api.EncodingEnum;
import ca.uhn.fhir.rest.api.server.IBundleProvider;
import ca.uhn.fhir.rest.server.IResourceProvider;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.SimpleBundleProvider;
import ca.uhn.fhir.rest.server.exceptions.ResourceNotFoundException;
import jakarta.servlet.DispatcherType;
import jakarta.servlet.Filter;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.WriteListener;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.servlet.http.HttpServletResponseWrapper;
import java.io.ByteArrayOutputStream;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import org.eclipse.jetty.ee10.servlet.FilterHolder;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.hl7.fhir.instance.model.api.IBaseResource;
import org.hl7.fhir.r4.model.Bundle;
import org.hl7.fhir.r4.model.IdType;
import org.hl7.fhir.r4.model.Patient;

public class PeerServer {
  /** The patient's resources, parsed once at start-up; served as they are. */
  public static class PatientProvider implements IResourceProvider {
    private final String patientId;
    private final List<IBaseResource> resources;

    PatientProvider(String patientId, List<IBaseResource> resources) {
      this.patientId = patientId;
      this.resources = resources;
    }

    @Override
    public Class<Patient> getResourceType() {
      return Patient.class;
    }

    @Operation(name = "$everything", idempotent = true, bundleType = BundleTypeEnum.SEARCHSET)
    public IBundleProvider everything(@IdParam IdType id) {
      if (!patientId.equals(id.getIdPart())) throw new ResourceNotFoundException(id);
      return new SimpleBundleProvider(resources);
    }
  }

  /**
   * Holds the whole response and sends it with Content-Length, as our gatekeeper does (HAPI
   * streams through the servlet writer, which Jetty sends chunked); the bench's load generator
   * reads Content-Length responses only.
   */
  static class Buffered extends HttpServletResponseWrapper {
    private final ByteArrayOutputStream bytes = new ByteArrayOutputStream(64 * 1024);
    private PrintWriter writer;
    private ServletOutputStream out;

    Buffered(HttpServletResponse response) {
      super(response);
    }

    @Override
    public ServletOutputStream getOutputStream() {
      if (out == null)
        out =
            new ServletOutputStream() {
              @Override
              public void write(int b) {
                bytes.write(b);
              }

              @Override
              public void write(byte[] b, int off, int len) {
                bytes.write(b, off, len);
              }

              @Override
              public boolean isReady() {
                return true;
              }

              @Override
              public void setWriteListener(WriteListener listener) {}
            };
      return out;
    }

    @Override
    public PrintWriter getWriter() {
      if (writer == null) writer = new PrintWriter(new OutputStreamWriter(bytes, StandardCharsets.UTF_8));
      return writer;
    }

    @Override
    public void flushBuffer() {}

    void send() throws java.io.IOException {
      if (writer != null) writer.flush();
      HttpServletResponse response = (HttpServletResponse) getResponse();
      response.setContentLength(bytes.size());
      bytes.writeTo(response.getOutputStream());
    }
  }

  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    FhirContext fhir = FhirContext.forR4();
    Bundle bundle = fhir.newJsonParser().parseResource(Bundle.class, Files.readString(Path.of(args[1])));
    List<IBaseResource> resources = new ArrayList<>();
    String patientId = null;
    for (Bundle.BundleEntryComponent entry : bundle.getEntry()) {
      resources.add(entry.getResource());
      if (entry.getResource() instanceof Patient p) patientId = p.getIdElement().getIdPart();
    }
    if (patientId == null) throw new IllegalArgumentException("the bundle holds no Patient");

    RestfulServer restful = new RestfulServer(fhir);
    restful.setDefaultResponseEncoding(EncodingEnum.JSON);
    restful.registerProvider(new PatientProvider(patientId, resources));

    Server server = new Server();
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost("127.0.0.1");
    connector.setPort(port);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    context.addServlet(new ServletHolder(restful), "/fhir/*");
    Filter buffer =
        (request, response, chain) -> {
          Buffered buffered = new Buffered((HttpServletResponse) response);
          chain.doFilter(request, buffered);
          buffered.send();
        };
    context.addFilter(new FilterHolder(buffer), "/*", EnumSet.of(DispatcherType.REQUEST));
    server.setHandler(context);
    server.start();
    System.out.println("listening " + port + " patient " + patientId + " resources " + resources.size());
    server.join();
  }
}
