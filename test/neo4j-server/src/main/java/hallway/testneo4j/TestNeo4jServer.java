package hallway.testneo4j;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * A Neo4j Community server for Hallway's tests and benchmark: the embedded database with the
 * Bolt connector on 127.0.0.1, authentication on, the store in a directory of its own.
 *
 * <pre>
 *   run [--port N] [--dir PATH] [--exit-with-stdin]
 * </pre>
 *
 * <ul>
 *   <li>{@code --port}: the Bolt port; 0 (the default) takes a free one, and the URI printed
 *       says which.
 *   <li>{@code --dir}: where the store lives, kept at exit, so a second start on the same
 *       directory (and port) is a restart of the same server. Without it the store goes into a
 *       new temporary directory that is deleted at exit.
 *   <li>{@code --exit-with-stdin}: stop when standard input closes, so a test run that dies
 *       without stopping its server does not leave one behind.
 * </ul>
 *
 * <p>The password of the {@code neo4j} user comes from {@code HALLWAY_NEO4J_PASSWORD} (never
 * from the command line); without it one is generated and shown on standard error, for a
 * person. Standard output carries exactly one line, the Bolt URI, printed once the default
 * database accepts transactions; everything else goes to standard error. SIGTERM (or Ctrl-C)
 * shuts the database down cleanly.
 */
public final class TestNeo4jServer {
  private static final String HOST = "127.0.0.1";
  private static final String USER = "neo4j";
  private static final String PASSWORD_VARIABLE = "HALLWAY_NEO4J_PASSWORD";
  // Neo4j refuses passwords shorter than 8 characters (dbms.security.auth_minimum_password_length).
  private static final int MIN_PASSWORD_LENGTH = 8;
  private static final Duration START_TIMEOUT = Duration.ofMinutes(2);

  private TestNeo4jServer() {}

  public static void main(String[] args) throws Exception {
    PrintStream out = System.out;
    // Neo4j and its libraries may print; only the URI line belongs on standard output.
    System.setOut(System.err);
    Options options;
    try {
      options = Options.parse(args);
    } catch (IllegalArgumentException e) {
      System.err.println("test-neo4j: " + e.getMessage());
      System.err.println("usage: run [--port N] [--dir PATH] [--exit-with-stdin]");
      System.exit(2);
      return;
    }

    String password = System.getenv(PASSWORD_VARIABLE);
    boolean generated = password == null || password.isEmpty();
    if (generated) password = generatePassword();
    if (password.length() < MIN_PASSWORD_LENGTH) {
      System.err.println("test-neo4j: " + PASSWORD_VARIABLE + " must have at least " + MIN_PASSWORD_LENGTH + " characters");
      System.exit(2);
      return;
    }

    boolean temporary = options.dir == null;
    Path home = temporary ? Files.createTempDirectory("hallway-test-neo4j-") : options.dir;
    Files.createDirectories(home);

    DatabaseManagementService dbms = start(home, options.port);
    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  try {
                    dbms.shutdown();
                  } finally {
                    if (temporary) deleteQuietly(home);
                    System.err.println("test-neo4j: stopped");
                    stopped.countDown();
                  }
                },
                "test-neo4j-shutdown"));

    try {
      setPassword(dbms, password);
      GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
      if (!db.isAvailable(START_TIMEOUT.toMillis())) {
        throw new IllegalStateException("the default database did not become available");
      }
      int port =
          ((GraphDatabaseAPI) db)
              .getDependencyResolver()
              .resolveDependency(ConnectorPortRegister.class)
              .getLocalAddress(ConnectorType.BOLT)
              .getPort();
      String uri = "bolt://" + HOST + ":" + port;
      System.err.println(
          "test-neo4j: Neo4j "
              + neo4jVersion()
              + " Community on "
              + uri
              + ", user "
              + USER
              + (generated ? ", password " + password + " (generated; set " + PASSWORD_VARIABLE + " to choose one)" : ", password from " + PASSWORD_VARIABLE)
              + ", store in "
              + home
              + (temporary ? " (deleted at exit)" : ""));
      out.println(uri);
      out.flush();
    } catch (Exception e) {
      System.err.println("test-neo4j: cannot start: " + e);
      System.exit(1);
      return;
    }

    if (options.exitWithStdin) {
      Thread watcher =
          new Thread(
              () -> {
                drain(System.in);
                System.exit(0);
              },
              "test-neo4j-stdin");
      watcher.setDaemon(true);
      watcher.start();
    }
    stopped.await();
  }

  private static DatabaseManagementService start(Path home, int port) {
    Map<org.neo4j.graphdb.config.Setting<?>, Object> settings =
        Map.of(
            GraphDatabaseSettings.auth_enabled, true,
            BoltConnector.enabled, true,
            BoltConnector.listen_address, new SocketAddress(HOST, port),
            BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED,
            // A test server: small caches, and transaction logs that are not preallocated.
            GraphDatabaseSettings.pagecache_memory, 128L * 1024 * 1024,
            GraphDatabaseSettings.preallocate_logical_logs, false,
            GraphDatabaseSettings.preallocate_store_files, false,
            GraphDatabaseSettings.keep_logical_logs, "false");
    return new DatabaseManagementServiceBuilder(home).setConfig(settings).build();
  }

  /**
   * Sets the password of the built-in {@code neo4j} user through the system database (user
   * management is part of Community). A restart on the same directory finds it already set.
   */
  private static void setPassword(DatabaseManagementService dbms, String password) {
    GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
    try {
      system.executeTransactionally(
          "ALTER USER " + USER + " SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
    } catch (RuntimeException e) {
      // Neo4j refuses to "change" a password to the one it already has: a restart.
      if (!String.valueOf(e.getMessage()).contains("Old password and new password cannot be the same")) throw e;
    }
  }

  private static String neo4jVersion() {
    String version = org.neo4j.kernel.internal.Version.getNeo4jVersion();
    return version == null ? "?" : version;
  }

  private static String generatePassword() {
    String alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    SecureRandom random = new SecureRandom();
    StringBuilder s = new StringBuilder();
    for (int i = 0; i < 24; i++) s.append(alphabet.charAt(random.nextInt(alphabet.length())));
    return s.toString();
  }

  private static void drain(InputStream in) {
    byte[] buffer = new byte[256];
    try {
      while (in.read(buffer) >= 0) {
        // Nothing is read from standard input; it only tells whether the parent is alive.
      }
    } catch (IOException e) {
      // A broken pipe means the same as end of input.
    }
  }

  private static void deleteQuietly(Path dir) {
    try {
      Files.walkFileTree(
          dir,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
              Files.deleteIfExists(file);
              return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
              Files.deleteIfExists(d);
              return FileVisitResult.CONTINUE;
            }
          });
    } catch (IOException e) {
      System.err.println("test-neo4j: could not delete " + dir + ": " + e.getMessage());
    }
  }

  private record Options(int port, Path dir, boolean exitWithStdin) {
    static Options parse(String[] args) {
      int port = 0;
      Path dir = null;
      boolean exitWithStdin = false;
      for (int i = 0; i < args.length; i++) {
        switch (args[i]) {
          case "--port" -> {
            String value = value(args, ++i, "--port");
            try {
              port = Integer.parseInt(value);
            } catch (NumberFormatException e) {
              throw new IllegalArgumentException("--port wants a number, not " + value);
            }
            if (port < 0 || port > 65535) throw new IllegalArgumentException("--port must be 0-65535");
          }
          case "--dir" -> dir = Path.of(value(args, ++i, "--dir")).toAbsolutePath();
          case "--exit-with-stdin" -> exitWithStdin = true;
          default -> throw new IllegalArgumentException("unknown option " + args[i]);
        }
      }
      return new Options(port, dir, exitWithStdin);
    }

    private static String value(String[] args, int i, String option) {
      if (i >= args.length) throw new IllegalArgumentException(option + " needs a value");
      return args[i];
    }
  }
}
