export {
  parseDockerConfigJson,
  InvalidCredentialError,
  MAX_SECRET_BYTES,
  sha256,
  type DockerConfigJson,
} from "./credentials/docker-config.js";
